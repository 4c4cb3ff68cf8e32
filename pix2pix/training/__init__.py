"""Training: the loop, the lr schedules, the progress lines, fine-tuning from weights."""
