"""Torch-free runtime for exported policies: numpy + onnxruntime only.

    from nfpo.deploy import Policy
    policy = Policy.load("policy_deterministic.onnx")
    action = policy.act(obs)                  # obs [O] or [B, O] -> action [D] or [B, D]
    action = policy.sample(obs, rng)          # stochastic artefacts: draws the noise input

This module must not import torch (a test runs it with torch blocked).
"""

from nfpo.deploy.policy import DeployError, Policy

__all__ = ["DeployError", "Policy"]
