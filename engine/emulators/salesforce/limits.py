"""The org limits of the Salesforce emulator: ``GET /limits/`` and the daily API request counter.

The body has the keys a real ``/limits`` answer has (API v59, an Enterprise Edition org), each
``{"Max", "Remaining"}``, with ``PermissionSets`` nesting ``CreateCustom``. Every counter but two
stays at its maximum: ``DailyApiRequests`` counts down with every data request (``--api-limit N``
sets its maximum; at zero every data request is refused with 403 ``REQUEST_LIMIT_EXCEEDED``,
"TotalRequests Limit exceeded.", as Salesforce refuses them), and ``DailyBulkApiBatches`` with
every Bulk API 2.0 ingest job processed (one batch per 10,000 rows, as Salesforce counts them).
"""

from __future__ import annotations

import threading
from typing import Any

DAILY_API_LIMIT = 100_000
DAILY_BULK_BATCHES = 15_000
BULK_BATCH_ROWS = 10_000

# name: Max, as an Enterprise Edition org of API v59 reports them.
FIXED_LIMITS: dict[str, int] = {
    "ActiveScratchOrgs": 3, "AnalyticsExternalDataSizeMB": 40960, "ConcurrentAsyncGetReportInstances": 200,
    "ConcurrentEinsteinDataInsightsStoryCreation": 5, "ConcurrentEinsteinDiscoveryStoryCreation": 2,
    "ConcurrentSyncReportRuns": 20, "DailyAnalyticsDataflowJobExecutions": 60,
    "DailyAnalyticsUploadedFilesSizeMB": 51200,
    "DailyAsyncApexExecutions": 250000, "DailyAsyncApexTests": 500, "DailyBulkV2QueryFileStorageMB": 976562,
    "DailyBulkV2QueryJobs": 10000, "DailyDeliveredPlatformEvents": 50000,
    "DailyDurableGenericStreamingApiEvents": 10000,
    "DailyDurableStreamingApiEvents": 10000, "DailyEinsteinDataInsightsStoryCreation": 1000,
    "DailyEinsteinDiscoveryPredictAPICalls": 50000, "DailyEinsteinDiscoveryPredictionsByCDC": 500000,
    "DailyEinsteinDiscoveryStoryCreation": 100, "DailyFunctionsApiCallLimit": 235000,
    "DailyGenericStreamingApiEvents": 10000, "DailyScratchOrgs": 6, "DailyStandardVolumePlatformEvents": 10000,
    "DailyStreamingApiEvents": 10000, "DailyWorkflowEmails": 2000, "DataStorageMB": 5,
    "DurableStreamingApiConcurrentClients": 20, "FileStorageMB": 20, "HourlyAsyncReportRuns": 1200,
    "HourlyDashboardRefreshes": 200, "HourlyDashboardResults": 5000, "HourlyDashboardStatuses": 999999999,
    "HourlyLongTermIdMapping": 100000, "HourlyManagedContentPublicRequests": 50000, "HourlyODataCallout": 10000,
    "HourlyPublishedPlatformEvents": 50000, "HourlyPublishedStandardVolumePlatformEvents": 1000,
    "HourlyShortTermIdMapping": 100000, "HourlySyncReportRuns": 500, "HourlyTimeBasedWorkflow": 50,
    "MassEmail": 10, "MonthlyEinsteinDiscoveryStoryCreation": 500, "MonthlyPlatformEventsUsageEntitlement": 0,
    "Package2VersionCreates": 6, "Package2VersionCreatesWithoutValidation": 500,
    "PrivateConnectOutboundCalloutHourlyLimitMB": 0, "PublishCallbackUsageInApex": 5000000, "SingleEmail": 15,
    "StreamingApiConcurrentClients": 20,
}


class OrgLimits:
    """The counters that move: API requests and Bulk batches of the day."""

    def __init__(self, api_limit: int = DAILY_API_LIMIT) -> None:
        self.api_limit = api_limit
        self._lock = threading.Lock()
        self.api_used = 0
        self.bulk_batches_used = 0

    def take_request(self) -> bool:
        """Count one API request; False (and nothing counted) when the day's requests are used up."""
        with self._lock:
            if self.api_used >= self.api_limit:
                return False
            self.api_used += 1
            return True

    def take_bulk_rows(self, rows: int) -> None:
        with self._lock:
            self.bulk_batches_used += max(1, -(-rows // BULK_BATCH_ROWS))

    def limit_info(self) -> str:
        """The ``Sforce-Limit-Info`` header of every answer."""
        return f"api-usage={self.api_used}/{self.api_limit}"

    def body(self) -> dict[str, Any]:
        """``GET /limits/``."""
        with self._lock:
            api_left = max(self.api_limit - self.api_used, 0)
            batches_left = max(DAILY_BULK_BATCHES - self.bulk_batches_used, 0)
        moving = {"DailyApiRequests": (self.api_limit, api_left), "DailyBulkApiBatches": (DAILY_BULK_BATCHES,
                                                                                            batches_left)}
        out: dict[str, Any] = {}
        for name in sorted([*FIXED_LIMITS, *moving, "PermissionSets"]):
            if name == "PermissionSets":
                out[name] = {"Max": 1500, "Remaining": 1500, "CreateCustom": {"Max": 1000, "Remaining": 1000}}
            elif name in moving:
                out[name] = {"Max": moving[name][0], "Remaining": moving[name][1]}
            else:
                out[name] = {"Max": FIXED_LIMITS[name], "Remaining": FIXED_LIMITS[name]}
        return out
