"""Run the API offline: moto for AWS, a local gateway, local SageMaker endpoints."""
