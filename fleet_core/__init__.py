"""The framework-free domain: models, rules, ports and services of the fleet manager."""
