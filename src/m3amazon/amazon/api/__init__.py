"""The SP-API operations beyond order reading, one module per API, all through the gateway.

Each module is a thin class over `AmazonGateway`: it sends the model's request through the
gateway's one call path (`AmazonGateway._call`: token, retries, rate governor), parses the answer
into the typed models of `m3amazon.amazon.models` and translates it with
`m3amazon.amazon.translate`. Writes are idempotent: each `ensure_*` looks the object up by its
natural key before it creates or changes anything.

- `orders_v0`: Orders v0 confirmShipment.
- `fulfillment`: Fulfillment Outbound 2020-07-01 getFulfillmentPreview, createFulfillmentOrder,
  getFulfillmentOrder, listAllFulfillmentOrders, cancelFulfillmentOrder.
- `inventory`: FBA Inventory v1 getInventorySummaries.
- `listings`: Listings Items 2021-08-01 getListingsItem, patchListingsItem.
- `feeds`: Feeds 2021-06-30 createFeedDocument, createFeed, getFeed, getFeedDocument, with the
  document upload and download (`documents`).
- `reports`: Reports 2021-06-30 getReports, getReport, getReportDocument, with the download.
- `finances`: Finances v0 listFinancialEventGroups, listFinancialEventsByGroupId; Finances
  2024-06-19 listTransactions.
- `notifications`: Notifications v1 getDestinations, createDestination, getSubscription,
  createSubscription, deleteSubscriptionById.
- `subscribe`: the product's destination and subscriptions, set up idempotently.
"""
