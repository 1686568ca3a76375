"""What every service's HTTP routes share: the request's unit of work, who is calling, and errors."""
