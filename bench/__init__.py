"""arbord's benchmarks: each compares arbord with a baseline measured in the same run (`make bench`)."""
