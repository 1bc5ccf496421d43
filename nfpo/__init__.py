"""nfpo: normalizing-flow policies and stabilized policy optimization for robot learning."""

__version__ = "0.1.0"
