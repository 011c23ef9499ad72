"""The inbox: acknowledged requests, stored before the acknowledgement and worked from there."""
