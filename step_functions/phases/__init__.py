"""The retraining pipeline's states, one module per phase (assembled by
step_functions/definition.py): guard, train, gate, register, deploy, smoke, rollback, publish,
reclassify; tasks.py holds what several phases build with."""
