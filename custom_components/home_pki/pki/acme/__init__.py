"""An ACME server (RFC 8555) with renewal information (RFC 9773), without Home Assistant."""
