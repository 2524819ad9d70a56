"""`python -m pbrl.plan <overrides>`: the command lives in the entry layer (`pbrl/cli/plan.py`)."""

if __name__ == "__main__":
    import sys

    from pbrl.cli.plan import main

    sys.exit(main())
