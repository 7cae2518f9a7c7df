"""Day-to-day operations around the pipeline: drift, experiments compared and swept, the run summary, DVC."""
