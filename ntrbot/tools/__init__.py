"""The command line and what only it uses: demo, legacy import, backup."""
