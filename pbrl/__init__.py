"""pbrl: Pivot-Based RL with Semantically Verifiable Rewards (arXiv 2509.25543), as a Hydra ablation framework."""

__version__ = "0.1.0"
