"""The logical units of the app; stacks in infra/stacks only compose these."""
