print("encore-bench: not yet")
