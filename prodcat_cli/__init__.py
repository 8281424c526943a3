"""The `prodcat` command: the front door above every unit (the core, the jobs, the local stack,
the pipeline, the API's record replay). Nothing imports it; it imports what each command runs."""
