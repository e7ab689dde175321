"""Local emulators of the Zoom and Salesforce REST APIs, served on loopback over real sockets."""
