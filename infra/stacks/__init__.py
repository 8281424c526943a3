"""Deployable units: each composes constructs and passes objects, never names, across stacks."""
