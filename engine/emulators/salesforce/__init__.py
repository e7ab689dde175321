"""The local Salesforce API emulator."""
