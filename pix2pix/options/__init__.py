"""Command-line options: the ones training and the test command share, and the official
port's names. Imports models and data (their choices) and nothing above."""
