"""What each of the seven stages does for a causal language model (data.task sft or pretraining); each module's
`main(params)` is called by its stage in stages/."""
