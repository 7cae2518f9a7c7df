"""What deploy makes of a trained model: compressed variants, deploy targets, the release registry."""
