"""The Salesforce side: authentication, the writer (Collections and Bulk API 2.0), the target catalog."""
