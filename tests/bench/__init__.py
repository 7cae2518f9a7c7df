"""The benchmarks' own tests: their floors measure what they claim, and each runs end to end on tiny inputs."""
