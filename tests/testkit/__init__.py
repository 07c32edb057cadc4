"""`testkit`: a kernel test addon with permission-guarded routes and a record rule."""
