"""Everything that runs offline, with no AWS account and no Docker: moto for AWS, a local API
Gateway, local SageMaker endpoints and jobs, the retrain pipeline's local run. Above the units
it runs (lambdas, inference, sagemaker_jobs, step_functions), below the CLI; never shipped in a
Lambda zip or an image."""
