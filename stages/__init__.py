"""The seven pipeline stages: acquire, clean, label, select, train, evaluate, deploy.

Each is one module: a docstring saying what it reads and writes, a pure `run()` and a thin `main()`;
dvc.yaml runs it as `python -m stages.<name>`. Everything they use lives in the `millrace` library.
"""
