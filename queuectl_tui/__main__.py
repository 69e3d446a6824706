"""Allow ``python -m queuectl_tui`` as a synonym for the ``queuectl`` script."""

from queuectl_tui.cli import main

if __name__ == "__main__":
    main()
