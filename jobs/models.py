"""Jobs and their live logs (see the job engine)."""
