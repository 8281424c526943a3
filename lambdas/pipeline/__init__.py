"""Pipeline Lambdas called by the Step Functions state machine (step_functions/)."""
