"""The model: encoders (hub, package, random), task heads and pair modes, tuning methods, losses, device."""
