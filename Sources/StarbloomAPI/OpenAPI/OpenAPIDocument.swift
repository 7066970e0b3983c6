import Foundation

/// The OpenAPI 3.1 description of every route, served at `/openapi.json`. Written from the routes;
/// the e2e run tests the live server against it with schemathesis (any 5xx, undocumented status,
/// content type or response shape fails), so the two cannot drift apart unnoticed.
enum OpenAPIDocument {
    /// Documented methods per path template (`{name}` segments are nil), from `json`: lets the API
    /// answer 405 with `Allow` for a known path and an unknown method instead of 404.
    static let routes: [(segments: [String?], methods: [String])] = {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let paths = object["paths"] as? [String: [String: Any]] else { return [] }
        return paths.map { path, operations in
            (path.split(separator: "/").map { $0.hasPrefix("{") ? nil : String($0) },
             operations.keys.map { $0.uppercased() }.filter { ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"].contains($0) }.sorted())
        }
    }()

    /// The methods documented for `path`, if a documented template matches it.
    static func methods(for path: String) -> [String]? {
        let segments = path.split(separator: "/")
        // The most specific template wins (/v1/plugins/rescan over /v1/plugins/{plugin}), as in the router.
        return routes.filter { route in
            route.segments.count == segments.count && zip(route.segments, segments).allSatisfy { $0 == nil || $0! == $1 }
        }.max { $0.segments.filter { $0 != nil }.count < $1.segments.filter { $0 != nil }.count }?.methods
    }

    static let json = #"""
{
 "openapi": "3.1.0",
 "info": {
  "title": "Starbloom API",
  "version": "1",
  "description": "Topics, key-value, series, event streams and host administration. Every error is application/problem+json (RFC 9457)."
 },
 "servers": [
  {
   "url": "/"
  }
 ],
 "paths": {
  "/healthz": {
   "get": {
    "summary": "Liveness",
    "operationId": "healthz",
    "responses": {
     "200": {
      "description": "alive",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "status"
         ],
         "properties": {
          "status": {
           "const": "ok"
          }
         }
        }
       }
      }
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "security": []
   }
  },
  "/readyz": {
   "get": {
    "summary": "Readiness of the queue, the storage, each enabled instance and each pipeline",
    "operationId": "readyz",
    "responses": {
     "200": {
      "description": "ready",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Readiness"
        }
       }
      }
     },
     "503": {
      "description": "not ready",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Readiness"
        }
       }
      }
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "security": []
   }
  },
  "/openapi.json": {
   "get": {
    "summary": "This document",
    "operationId": "openapi",
    "responses": {
     "200": {
      "description": "OpenAPI 3.1",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "security": []
   }
  },
  "/metrics": {
   "get": {
    "summary": "Prometheus metrics",
    "operationId": "metrics",
    "responses": {
     "200": {
      "description": "text format 0.0.4",
      "content": {
       "text/plain": {
        "schema": {
         "type": "string"
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/topics": {
   "get": {
    "summary": "Topics with statistics (a key sees only its topics)",
    "operationId": "listTopics",
    "responses": {
     "200": {
      "description": "topics",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/TopicInfo"
         }
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/topics/{topic}": {
   "put": {
    "summary": "Create a topic with settings",
    "operationId": "createTopic",
    "responses": {
     "201": {
      "description": "created",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/TopicInfo"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "topic",
      "in": "path",
      "schema": {
       "type": "string",
       "maxLength": 255
      },
      "required": true,
      "description": "dot-separated topic name"
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/TopicSettings"
       }
      }
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   },
   "delete": {
    "summary": "Delete a topic and its records (admin)",
    "operationId": "deleteTopic",
    "responses": {
     "204": {
      "description": "deleted"
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "500": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "topic",
      "in": "path",
      "schema": {
       "type": "string",
       "maxLength": 255
      },
      "required": true,
      "description": "dot-separated topic name"
     }
    ],
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/topics/{topic}/records": {
   "post": {
    "summary": "Publish one record or a batch; answers once acknowledged",
    "operationId": "publish",
    "responses": {
     "200": {
      "description": "positions, in order",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/PublishResult"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "topic",
      "in": "path",
      "schema": {
       "type": "string",
       "maxLength": 255
      },
      "required": true,
      "description": "dot-separated topic name"
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/PublishBody"
       }
      }
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   },
   "get": {
    "summary": "Read a partition from an offset, optionally filtered (key, header.NAME, where)",
    "operationId": "readRecords",
    "responses": {
     "200": {
      "description": "a page",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/RecordPage"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "topic",
      "in": "path",
      "schema": {
       "type": "string",
       "maxLength": 255
      },
      "required": true,
      "description": "dot-separated topic name"
     },
     {
      "name": "from",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 0
      },
      "required": false
     },
     {
      "name": "limit",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 1000
      },
      "required": false
     },
     {
      "name": "partition",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 0,
       "maximum": 255
      },
      "required": false
     },
     {
      "name": "key",
      "in": "query",
      "required": false,
      "schema": {
       "type": "string"
      },
      "description": "only records with this key"
     },
     {
      "name": "where",
      "in": "query",
      "required": false,
      "schema": {
       "type": "array",
       "items": {
        "type": "string"
       }
      },
      "style": "form",
      "explode": true,
      "description": "FIELD OP VALUE on the JSON payload; repeatable, all must hold"
     }
    ],
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/events": {
   "get": {
    "summary": "Server-Sent Events of matching topics; resume with Last-Event-ID",
    "operationId": "events",
    "responses": {
     "200": {
      "description": "an endless text/event-stream",
      "content": {
       "text/event-stream": {
        "schema": {
         "type": "string"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "topics",
      "in": "query",
      "schema": {
       "type": "string"
      },
      "required": true,
      "description": "comma-separated topic patterns"
     },
     {
      "name": "from",
      "in": "query",
      "schema": {
       "enum": [
        "latest",
        "earliest"
       ]
      },
      "required": false
     },
     {
      "name": "heartbeat_ms",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 100,
       "maximum": 300000
      },
      "required": false
     },
     {
      "name": "last_event_id",
      "in": "query",
      "schema": {
       "type": "string"
      },
      "required": false
     },
     {
      "name": "Last-Event-ID",
      "in": "header",
      "schema": {
       "type": "string"
      },
      "required": false
     }
    ],
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/kv/{namespace}": {
   "get": {
    "summary": "List entries by key prefix",
    "operationId": "listKeys",
    "responses": {
     "200": {
      "description": "a page",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/KeyValuePage"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "namespace",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true,
      "description": "1-128 characters of A-Z a-z 0-9 . _ -"
     },
     {
      "name": "prefix",
      "in": "query",
      "schema": {
       "type": "string"
      },
      "required": false
     },
     {
      "name": "limit",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 1000
      },
      "required": false
     },
     {
      "name": "cursor",
      "in": "query",
      "schema": {
       "type": "string"
      },
      "required": false
     }
    ],
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/kv/{namespace}/{key}": {
   "get": {
    "summary": "Read a value (raw body; version as ETag)",
    "operationId": "getKey",
    "responses": {
     "200": {
      "description": "the value",
      "headers": {
       "ETag": {
        "description": "the entry's version, quoted",
        "schema": {
         "type": "string"
        }
       }
      },
      "content": {
       "application/octet-stream": {
        "schema": {
         "type": "string",
         "format": "binary"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "namespace",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true,
      "description": "1-128 characters of A-Z a-z 0-9 . _ -"
     },
     {
      "name": "key",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true,
      "description": "percent-encoded key, at most 1024 bytes"
     }
    ],
    "security": [
     {
      "apiKey": []
     }
    ]
   },
   "put": {
    "summary": "Write a value; If-Match: compare-and-swap, If-None-Match: * put-if-absent",
    "operationId": "putKey",
    "responses": {
     "200": {
      "description": "written",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/KeyValueWrite"
        }
       }
      },
      "headers": {
       "ETag": {
        "description": "the entry's version, quoted",
        "schema": {
         "type": "string"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "412": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "namespace",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true,
      "description": "1-128 characters of A-Z a-z 0-9 . _ -"
     },
     {
      "name": "key",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true,
      "description": "percent-encoded key, at most 1024 bytes"
     },
     {
      "name": "ttl_ms",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 31622400000
      },
      "required": false
     },
     {
      "name": "If-Match",
      "in": "header",
      "schema": {
       "type": "string"
      },
      "required": false
     },
     {
      "name": "If-None-Match",
      "in": "header",
      "schema": {
       "type": "string"
      },
      "required": false
     }
    ],
    "requestBody": {
     "required": false,
     "content": {
      "application/octet-stream": {
       "schema": {
        "type": "string",
        "format": "binary"
       }
      }
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   },
   "delete": {
    "summary": "Delete a key",
    "operationId": "deleteKey",
    "responses": {
     "204": {
      "description": "deleted"
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "namespace",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true,
      "description": "1-128 characters of A-Z a-z 0-9 . _ -"
     },
     {
      "name": "key",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true,
      "description": "percent-encoded key, at most 1024 bytes"
     }
    ],
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/kv/{namespace}/{key}/increment": {
   "post": {
    "summary": "Add to a decimal integer value",
    "operationId": "increment",
    "responses": {
     "200": {
      "description": "the new value",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/IncrementResult"
        }
       }
      },
      "headers": {
       "ETag": {
        "description": "the entry's version, quoted",
        "schema": {
         "type": "string"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "namespace",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true,
      "description": "1-128 characters of A-Z a-z 0-9 . _ -"
     },
     {
      "name": "key",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true,
      "description": "percent-encoded key, at most 1024 bytes"
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "required": [
         "by"
        ],
        "properties": {
         "by": {
          "type": "integer"
         }
        }
       }
      }
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/series": {
   "get": {
    "summary": "Metrics and their series counts",
    "operationId": "listMetrics",
    "responses": {
     "200": {
      "description": "metrics",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/MetricList"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/series/{metric}/points": {
   "post": {
    "summary": "Write points (at most 10,000)",
    "operationId": "writePoints",
    "responses": {
     "200": {
      "description": "written",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "written"
         ],
         "properties": {
          "written": {
           "type": "integer"
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "metric",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/PointsBody"
       }
      }
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/series/{metric}": {
   "get": {
    "summary": "Query a range",
    "operationId": "querySeries",
    "responses": {
     "200": {
      "description": "buckets per series or group",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/SeriesAnswer"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "metric",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true
     },
     {
      "name": "from",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 0
      },
      "required": true
     },
     {
      "name": "to",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 0
      },
      "required": true
     },
     {
      "name": "step",
      "in": "query",
      "schema": {
       "type": "integer",
       "minimum": 1
      },
      "required": true
     },
     {
      "name": "agg",
      "in": "query",
      "schema": {
       "enum": [
        "min",
        "max",
        "avg",
        "sum",
        "count",
        "first",
        "last"
       ]
      },
      "required": false
     },
     {
      "name": "group_by",
      "in": "query",
      "schema": {
       "type": "string"
      },
      "required": false,
      "description": "comma-separated tag names; empty merges all"
     },
     {
      "name": "raw",
      "in": "query",
      "schema": {
       "type": "boolean"
      },
      "required": false
     }
    ],
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/plugins": {
   "get": {
    "summary": "Loaded plugins and refused files (admin)",
    "operationId": "listPlugins",
    "responses": {
     "200": {
      "description": "plugins",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "plugins",
          "refused"
         ]
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/plugins/rescan": {
   "post": {
    "summary": "Rescan the plugins directory (admin)",
    "operationId": "rescan",
    "responses": {
     "200": {
      "description": "scan result",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/plugins/{plugin}": {
   "get": {
    "summary": "One plugin (admin)",
    "operationId": "getPlugin",
    "responses": {
     "200": {
      "description": "plugin",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "plugin",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true
     }
    ],
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/plugins/{plugin}/validate": {
   "post": {
    "summary": "Validate settings against the plugin's fields (admin)",
    "operationId": "validatePlugin",
    "responses": {
     "200": {
      "description": "valid",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     },
     "422": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "plugin",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/SettingsBody"
       }
      }
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/instances": {
   "get": {
    "summary": "Instances with state (admin)",
    "operationId": "listInstances",
    "responses": {
     "200": {
      "description": "instances",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/InstanceStatus"
         }
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   },
   "post": {
    "summary": "Create an instance (admin)",
    "operationId": "createInstance",
    "responses": {
     "201": {
      "description": "created",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/InstanceStatus"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     },
     "422": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/InstanceInput"
       }
      }
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/instances/{instance}": {
   "get": {
    "summary": "An instance with spec and logs (admin)",
    "operationId": "getInstance",
    "responses": {
     "200": {
      "description": "instance",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "status",
          "spec",
          "logs"
         ]
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "instance",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true
     }
    ],
    "security": [
     {
      "apiKey": []
     }
    ]
   },
   "delete": {
    "summary": "Stop and remove an instance (admin)",
    "operationId": "deleteInstance",
    "responses": {
     "204": {
      "description": "removed"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "instance",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true
     }
    ],
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/instances/{instance}/enable": {
   "post": {
    "summary": "Enable (admin)",
    "operationId": "enableInstance",
    "responses": {
     "200": {
      "description": "status",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/InstanceStatus"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "instance",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true
     }
    ],
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/instances/{instance}/disable": {
   "post": {
    "summary": "Disable (admin)",
    "operationId": "disableInstance",
    "responses": {
     "200": {
      "description": "status",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/InstanceStatus"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "instance",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true
     }
    ],
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/instances/{instance}/restart": {
   "post": {
    "summary": "Restart (admin)",
    "operationId": "restartInstance",
    "responses": {
     "200": {
      "description": "status",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/InstanceStatus"
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "instance",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true
     }
    ],
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/instances/{instance}/settings": {
   "put": {
    "summary": "Replace settings, validated (admin)",
    "operationId": "reconfigureInstance",
    "responses": {
     "200": {
      "description": "status",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/InstanceStatus"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     },
     "422": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "instance",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/SettingsBody"
       }
      }
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/instances/{instance}/commands/{command}": {
   "post": {
    "summary": "Call a plugin command (admin)",
    "operationId": "callCommand",
    "responses": {
     "200": {
      "description": "reply",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "reply"
         ],
         "properties": {
          "reply": {
           "type": "string"
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     },
     "422": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "instance",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true
     },
     {
      "name": "command",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object",
        "required": [
         "args"
        ],
        "properties": {
         "args": {
          "type": "array",
          "items": {
           "type": "string"
          }
         }
        }
       }
      }
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/keys": {
   "get": {
    "summary": "Live API keys, never their tokens (admin)",
    "operationId": "listKeys2",
    "responses": {
     "200": {
      "description": "keys",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "$ref": "#/components/schemas/APIKey"
         }
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   },
   "post": {
    "summary": "Create a key; the answer holds its token, shown only once (admin)",
    "operationId": "createKey",
    "responses": {
     "201": {
      "description": "created",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "key",
          "token"
         ],
         "properties": {
          "key": {
           "$ref": "#/components/schemas/APIKey"
          },
          "token": {
           "type": "string"
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/KeyInput"
       }
      }
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/keys/{id}": {
   "delete": {
    "summary": "Revoke a key (admin)",
    "operationId": "revokeKey",
    "responses": {
     "204": {
      "description": "revoked"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "409": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "schema": {
       "type": "string"
      },
      "required": true
     }
    ],
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/pipelines": {
   "get": {
    "summary": "Pipelines with their definitions and status (admin)",
    "operationId": "listPipelines",
    "responses": {
     "200": {
      "description": "pipelines",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "pipelines"
         ],
         "properties": {
          "pipelines": {
           "type": "array",
           "items": {
            "$ref": "#/components/schemas/Pipeline"
           }
          }
         }
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/pipelines/validate": {
   "post": {
    "summary": "Check a pipeline definition without applying it (admin)",
    "operationId": "validatePipeline",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/PipelineDefinition"
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "valid",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "valid",
          "name",
          "steps",
          "outputs"
         ],
         "properties": {
          "valid": {
           "type": "boolean"
          },
          "name": {
           "type": "string"
          },
          "steps": {
           "type": "integer"
          },
          "outputs": {
           "type": "integer"
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     },
     "422": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  },
  "/v1/pipelines/{name}": {
   "parameters": [
    {
     "name": "name",
     "in": "path",
     "required": true,
     "schema": {
      "type": "string"
     }
    }
   ],
   "get": {
    "summary": "One pipeline (admin)",
    "operationId": "getPipeline",
    "responses": {
     "200": {
      "description": "the pipeline",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Pipeline"
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   },
   "put": {
    "summary": "Create or replace a pipeline; it starts at once (admin)",
    "operationId": "putPipeline",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/PipelineDefinition"
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "replaced",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Pipeline"
        }
       }
      }
     },
     "201": {
      "description": "created",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Pipeline"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "413": {
      "$ref": "#/components/responses/Problem"
     },
     "422": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   },
   "delete": {
    "summary": "Stop a pipeline and forget its definition, state and offsets (admin)",
    "operationId": "deletePipeline",
    "responses": {
     "204": {
      "description": "deleted"
     },
     "401": {
      "$ref": "#/components/responses/Problem"
     },
     "403": {
      "$ref": "#/components/responses/Problem"
     },
     "404": {
      "$ref": "#/components/responses/Problem"
     },
     "429": {
      "$ref": "#/components/responses/Problem"
     },
     "405": {
      "$ref": "#/components/responses/Problem"
     },
     "503": {
      "$ref": "#/components/responses/Problem"
     },
     "400": {
      "$ref": "#/components/responses/Problem"
     }
    },
    "security": [
     {
      "apiKey": []
     }
    ]
   }
  }
 },
 "components": {
  "schemas": {
   "Problem": {
    "type": "object",
    "required": [
     "type",
     "title",
     "status",
     "detail"
    ],
    "properties": {
     "type": {
      "type": "string"
     },
     "title": {
      "type": "string"
     },
     "status": {
      "type": "integer"
     },
     "detail": {
      "type": "string"
     }
    }
   },
   "Readiness": {
    "type": "object",
    "required": [
     "ready",
     "queue",
     "storage",
     "instances",
     "pipelines"
    ],
    "properties": {
     "ready": {
      "type": "boolean"
     },
     "queue": {
      "type": "string",
      "description": "ok, or the partitions that stopped accepting writes and why"
     },
     "storage": {
      "type": "string",
      "description": "ok, or why the SQLite stores do not answer"
     },
     "instances": {
      "type": "object",
      "additionalProperties": {
       "type": "string"
      }
     },
     "pipelines": {
      "type": "object",
      "additionalProperties": {
       "type": "string"
      }
     }
    }
   },
   "PartitionInfo": {
    "type": "object",
    "required": [
     "partition",
     "firstOffset",
     "nextOffset",
     "bytes",
     "segments"
    ],
    "properties": {
     "partition": {
      "type": "integer"
     },
     "firstOffset": {
      "type": "integer",
      "minimum": 0
     },
     "nextOffset": {
      "type": "integer",
      "minimum": 0
     },
     "bytes": {
      "type": "integer"
     },
     "segments": {
      "type": "integer"
     },
     "flushes": {
      "type": "integer",
      "minimum": 0
     },
     "syncs": {
      "type": "integer",
      "minimum": 0
     }
    }
   },
   "TopicInfo": {
    "type": "object",
    "required": [
     "name",
     "partitions",
     "durability",
     "published",
     "bytes"
    ],
    "properties": {
     "name": {
      "type": "string"
     },
     "partitions": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/PartitionInfo"
      }
     },
     "durability": {
      "type": "string"
     },
     "published": {
      "type": "integer",
      "minimum": 0
     },
     "bytes": {
      "type": "integer"
     }
    }
   },
   "TopicSettings": {
    "type": "object",
    "properties": {
     "partitions": {
      "type": [
       "integer",
       "null"
      ],
      "minimum": 1,
      "maximum": 256
     },
     "durability": {
      "type": [
       "string",
       "null"
      ],
      "pattern": "^(always|none|interval(:[1-9][0-9]{0,8})?)$",
      "description": "always, none or interval:<ms>"
     },
     "max_record_bytes": {
      "type": [
       "integer",
       "null"
      ],
      "minimum": 1,
      "maximum": 67108864
     },
     "segment_bytes": {
      "type": [
       "integer",
       "null"
      ],
      "minimum": 4096,
      "maximum": 1073741824
     },
     "retention_seconds": {
      "type": [
       "number",
       "null"
      ],
      "exclusiveMinimum": 0
     },
     "retention_bytes": {
      "type": [
       "integer",
       "null"
      ],
      "minimum": 4096
     },
     "compact": {
      "type": [
       "boolean",
       "null"
      ]
     }
    },
    "description": "Cross-field rules the schema cannot say: segment_bytes must exceed max_record_bytes by 4 KiB, retention_bytes must be at least segment_bytes, and partitions \u00d7 segment_bytes at most 1 GiB."
   },
   "OutRecord": {
    "type": "object",
    "properties": {
     "key": {
      "type": [
       "string",
       "null"
      ]
     },
     "payload": {
      "type": [
       "string",
       "null"
      ]
     },
     "payload_base64": {
      "type": [
       "string",
       "null"
      ]
     },
     "headers": {
      "type": [
       "object",
       "null"
      ],
      "additionalProperties": {
       "type": "string"
      }
     },
     "event_time_ns": {
      "type": [
       "integer",
       "null"
      ],
      "minimum": 0
     }
    }
   },
   "PublishBody": {
    "type": "object",
    "properties": {
     "record": {
      "anyOf": [
       {
        "$ref": "#/components/schemas/OutRecord"
       },
       {
        "type": "null"
       }
      ]
     },
     "records": {
      "type": [
       "array",
       "null"
      ],
      "items": {
       "$ref": "#/components/schemas/OutRecord"
      },
      "maxItems": 1000
     }
    }
   },
   "PublishResult": {
    "type": "object",
    "required": [
     "positions"
    ],
    "properties": {
     "positions": {
      "type": "array",
      "items": {
       "type": "object",
       "required": [
        "partition",
        "offset"
       ],
       "properties": {
        "partition": {
         "type": "integer"
        },
        "offset": {
         "type": "integer",
         "minimum": 0
        }
       }
      }
     }
    }
   },
   "Record": {
    "type": "object",
    "required": [
     "topic",
     "offset",
     "key",
     "payload",
     "payloadEncoding",
     "headers",
     "eventTimeNs"
    ],
    "properties": {
     "topic": {
      "type": "string"
     },
     "offset": {
      "type": "integer",
      "minimum": 0
     },
     "key": {
      "type": "string"
     },
     "payload": {
      "type": "string"
     },
     "payloadEncoding": {
      "enum": [
       "utf-8",
       "base64"
      ]
     },
     "headers": {
      "type": "object",
      "additionalProperties": {
       "type": "string"
      }
     },
     "eventTimeNs": {
      "type": "integer"
     }
    }
   },
   "RecordPage": {
    "type": "object",
    "required": [
     "records",
     "next"
    ],
    "properties": {
     "records": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/Record"
      }
     },
     "next": {
      "type": "integer",
      "minimum": 0
     }
    }
   },
   "KeyValueEntry": {
    "type": "object",
    "required": [
     "key",
     "version",
     "value_base64"
    ],
    "properties": {
     "key": {
      "type": "string"
     },
     "version": {
      "type": "integer",
      "minimum": 0
     },
     "value": {
      "type": "string"
     },
     "value_base64": {
      "type": "string"
     }
    }
   },
   "KeyValuePage": {
    "type": "object",
    "required": [
     "entries"
    ],
    "properties": {
     "entries": {
      "type": "array",
      "items": {
       "$ref": "#/components/schemas/KeyValueEntry"
      }
     },
     "next": {
      "type": "string"
     }
    }
   },
   "KeyValueWrite": {
    "type": "object",
    "required": [
     "version"
    ],
    "properties": {
     "version": {
      "type": "integer",
      "minimum": 0
     }
    }
   },
   "IncrementResult": {
    "type": "object",
    "required": [
     "value",
     "version"
    ],
    "properties": {
     "value": {
      "type": "integer"
     },
     "version": {
      "type": "integer",
      "minimum": 0
     }
    }
   },
   "MetricList": {
    "type": "object",
    "required": [
     "metrics"
    ],
    "properties": {
     "metrics": {
      "type": "array",
      "items": {
       "type": "object",
       "required": [
        "metric",
        "series"
       ],
       "properties": {
        "metric": {
         "type": "string"
        },
        "series": {
         "type": "integer"
        }
       }
      }
     }
    }
   },
   "PointsBody": {
    "type": "object",
    "required": [
     "points"
    ],
    "properties": {
     "points": {
      "type": "array",
      "minItems": 1,
      "maxItems": 10000,
      "items": {
       "type": "object",
       "required": [
        "ts_ns",
        "value"
       ],
       "properties": {
        "tags": {
         "type": [
          "object",
          "null"
         ],
         "additionalProperties": {
          "type": "string"
         },
         "maxProperties": 32
        },
        "ts_ns": {
         "type": "integer",
         "minimum": 0,
         "maximum": 4611686018427387903
        },
        "value": {
         "type": "number"
        }
       }
      }
     }
    }
   },
   "SeriesAnswer": {
    "type": "object",
    "required": [
     "metric",
     "aggregate",
     "from",
     "to",
     "step",
     "source",
     "results"
    ],
    "properties": {
     "metric": {
      "type": "string"
     },
     "aggregate": {
      "type": "string"
     },
     "from": {
      "type": "integer"
     },
     "to": {
      "type": "integer"
     },
     "step": {
      "type": "integer"
     },
     "source": {
      "type": "string"
     },
     "results": {
      "type": "array",
      "items": {
       "type": "object",
       "required": [
        "tags",
        "buckets"
       ],
       "properties": {
        "tags": {
         "type": "object",
         "additionalProperties": {
          "type": "string"
         }
        },
        "buckets": {
         "type": "array",
         "items": {
          "type": "object",
          "required": [
           "start",
           "value"
          ],
          "properties": {
           "start": {
            "type": "integer"
           },
           "value": {
            "type": "number"
           }
          }
         }
        }
       }
      }
     }
    }
   },
   "InstanceStatus": {
    "type": "object",
    "required": [
     "name",
     "plugin",
     "enabled",
     "state",
     "restarts",
     "stateSince",
     "recordsIn",
     "recordsOut",
     "errors"
    ],
    "properties": {
     "name": {
      "type": "string"
     },
     "plugin": {
      "type": "string"
     },
     "pluginVersion": {
      "type": "string"
     },
     "enabled": {
      "type": "boolean"
     },
     "state": {
      "type": "string"
     },
     "lastError": {
      "type": "string"
     },
     "restarts": {
      "type": "integer"
     },
     "stateSince": {
      "type": "string"
     },
     "recordsIn": {
      "type": "integer",
      "minimum": 0
     },
     "recordsOut": {
      "type": "integer",
      "minimum": 0
     },
     "errors": {
      "type": "integer",
      "minimum": 0
     }
    }
   },
   "SettingsBody": {
    "type": "object",
    "required": [
     "settings"
    ],
    "properties": {
     "settings": {
      "type": "object"
     }
    }
   },
   "InstanceInput": {
    "type": "object",
    "required": [
     "name",
     "plugin"
    ],
    "properties": {
     "name": {
      "type": "string"
     },
     "plugin": {
      "type": "string"
     },
     "enabled": {
      "type": [
       "boolean",
       "null"
      ]
     },
     "restart": {
      "type": [
       "string",
       "null"
      ]
     },
     "settings": {
      "type": [
       "object",
       "null"
      ]
     },
     "inputs": {
      "type": [
       "array",
       "null"
      ],
      "items": {
       "type": "string"
      }
     },
     "output": {
      "type": [
       "string",
       "null"
      ]
     },
     "stopTimeoutMs": {
      "type": [
       "integer",
       "null"
      ]
     }
    }
   },
   "APIKey": {
    "type": "object",
    "required": [
     "id",
     "name",
     "role",
     "topics",
     "ratePerSecond",
     "burst",
     "createdAt"
    ],
    "properties": {
     "id": {
      "type": "string"
     },
     "name": {
      "type": "string"
     },
     "role": {
      "enum": [
       "reader",
       "writer",
       "admin"
      ]
     },
     "topics": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "ratePerSecond": {
      "type": "number"
     },
     "burst": {
      "type": "integer"
     },
     "createdAt": {
      "type": "string"
     }
    }
   },
   "KeyInput": {
    "type": "object",
    "required": [
     "name",
     "role"
    ],
    "properties": {
     "name": {
      "type": "string"
     },
     "role": {
      "enum": [
       "reader",
       "writer",
       "admin"
      ]
     },
     "topics": {
      "type": [
       "array",
       "null"
      ],
      "items": {
       "type": "string"
      }
     },
     "rate_per_s": {
      "type": [
       "number",
       "null"
      ]
     },
     "burst": {
      "type": [
       "integer",
       "null"
      ]
     }
    }
   },
   "PipelineDefinition": {
    "type": "object",
    "description": "The same keys as a [[pipelines]] table of starbloom.toml (see docs/PIPELINES.md). Unknown keys are refused.",
    "required": [
     "inputs",
     "outputs"
    ],
    "properties": {
     "name": {
      "type": "string"
     },
     "inputs": {
      "type": "array",
      "items": {
       "type": "string"
      }
     },
     "steps": {
      "type": "array",
      "items": {
       "type": "object",
       "required": [
        "type"
       ],
       "properties": {
        "type": {
         "type": "string",
         "enum": [
          "filter",
          "map",
          "enrich",
          "dedupe",
          "window",
          "processor"
         ]
        }
       }
      }
     },
     "outputs": {
      "type": "array",
      "items": {
       "type": "object"
      }
     },
     "dead_letter_topic": {
      "type": "string"
     },
     "batch_size": {
      "type": "integer"
     },
     "checkpoint_interval_ms": {
      "type": "integer"
     },
     "start": {
      "type": "string",
      "enum": [
       "earliest",
       "latest"
      ]
     }
    }
   },
   "PipelineStatus": {
    "type": "object",
    "required": [
     "state",
     "processed",
     "emitted",
     "dead_lettered",
     "late",
     "checkpoints",
     "restarts",
     "offsets"
    ],
    "properties": {
     "state": {
      "type": "string",
      "enum": [
       "starting",
       "running",
       "failed",
       "stopped"
      ]
     },
     "last_error": {
      "type": "string"
     },
     "processed": {
      "type": "integer",
      "minimum": 0
     },
     "emitted": {
      "type": "integer",
      "minimum": 0
     },
     "dead_lettered": {
      "type": "integer",
      "minimum": 0
     },
     "late": {
      "type": "integer",
      "minimum": 0
     },
     "checkpoints": {
      "type": "integer",
      "minimum": 0
     },
     "restarts": {
      "type": "integer",
      "minimum": 0
     },
     "last_checkpoint_ms": {
      "type": "integer"
     },
     "offsets": {
      "type": "array",
      "items": {
       "type": "object",
       "required": [
        "topic",
        "partition",
        "next_offset"
       ],
       "properties": {
        "topic": {
         "type": "string"
        },
        "partition": {
         "type": "integer",
         "minimum": 0
        },
        "next_offset": {
         "type": "integer",
         "minimum": 0
        }
       }
      }
     }
    }
   },
   "Pipeline": {
    "type": "object",
    "required": [
     "name",
     "definition",
     "status"
    ],
    "properties": {
     "name": {
      "type": "string"
     },
     "definition": {
      "type": "object"
     },
     "status": {
      "$ref": "#/components/schemas/PipelineStatus"
     }
    }
   }
  },
  "responses": {
   "Problem": {
    "description": "what went wrong and what to fix",
    "content": {
     "application/problem+json": {
      "schema": {
       "$ref": "#/components/schemas/Problem"
      }
     }
    }
   }
  },
  "securitySchemes": {
   "apiKey": {
    "type": "http",
    "scheme": "bearer",
    "description": "sbk_<id>_<secret>; also accepted as X-API-Key"
   }
  }
 },
 "security": [
  {
   "apiKey": []
  }
 ]
}
"""#
}
