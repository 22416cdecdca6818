"""Reports of a rollout drawn from our tables: what the plan predicted and
what happened, host by host and step by step.

``upgrader.api.report`` reads a rollout into a plain dict, ``analysis`` derives
step bars, wave windows and the referee's counts from it (pure), and
``html.render`` draws it as one self-contained HTML page (pure).
"""
