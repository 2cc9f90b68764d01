"""The PKI core of Home PKI: pure Python over cryptography."""
