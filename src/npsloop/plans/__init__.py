"""Action plans: what a team does about a driver, topic, touchpoint, survey or segment, and
whether the NPS of that scope moved after the plan started."""
