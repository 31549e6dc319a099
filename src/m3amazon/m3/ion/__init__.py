"""ION: Infor OAGIS BODs (codec) and the ION Messaging Service (IMS) protocol, both directions."""
