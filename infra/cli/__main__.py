"""`python -m infra.cli ...`, as the supervisor starts each component."""

from infra.cli import main

if __name__ == "__main__":
    main()
