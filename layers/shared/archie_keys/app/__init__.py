"""Use cases. Each takes the `Services` it needs and a typed command, decides with `domain`, and reaches
storage and AWS only through the adapters in `Services`."""
