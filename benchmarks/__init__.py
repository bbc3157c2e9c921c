"""Side-by-side benchmarks of thalweg against PyTorch eager on the CPU."""
