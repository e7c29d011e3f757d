"""The rollout controller: sticky routing, progressive traffic with health gates, rollbacks."""
