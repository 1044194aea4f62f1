"""What a run looks like: the view of a state, its lanes, reports, diagrams and comparisons."""
