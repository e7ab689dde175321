"""The mapping language: YAML with positions, the model, expressions, functions, coercion, the plan."""
