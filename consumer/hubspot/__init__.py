"""The HubSpot side: the HTTP client (``client``), request pacing (``ratelimit``), batching of
many events' writes into few calls (``batching``) and the portal schema (``schema``)."""
