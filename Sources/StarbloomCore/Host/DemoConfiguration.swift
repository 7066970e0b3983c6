/// What `starbloom serve` runs when there is no starbloom.toml: the README's main job. A simulated
/// chain (reorgs included) publishes blocks and ERC-20 Transfer logs; two pipelines decode them with
/// the evm-decode plugin — one publishes every decoded transfer, one counts transfers and sums
/// their exact uint256 volume per token in 10-second windows, into a topic, a time series and
/// key-value. The same text works as a starbloom.toml (`starbloom serve --config` of a copy).
public enum DemoConfiguration {
    public static let toml = """
        # Starbloom demo: simulated chain → evm-decode → per-token windows.

        [[instances]]
        name = "chain"
        plugin = "sim-chain"
        [instances.settings]
        seed = 7
        block_time_ms = 500           # a block every half second (timestamps follow)
        tokens = 4
        transfers_per_block = 8
        reorg_every = 40              # a reorg every ~20 s, 1-3 blocks deep
        reorg_depth = 3

        [[instances]]
        name = "decode"
        plugin = "evm-decode"         # built-in ERC-20/721 events; no inputs: it serves pipeline steps

        [[pipelines]]
        name = "erc20-transfers"
        inputs = ["chain.logs"]
        steps = [ { type = "processor", instance = "decode" } ]
        outputs = [ { topic = "erc20.transfers" } ]

        [[pipelines]]
        name = "erc20-volume"
        inputs = ["chain.logs"]
        steps = [
          { type = "processor", instance = "decode" },
          { type = "filter", where = "event == 'Transfer'" },
          { type = "window", size = "10s", time_field = "timestamp", group_by = ["address"], aggregates = { transfers = "count", volume = "sum(args.value)" }, allowed_lateness = "2s" },
        ]
        outputs = [
          { topic = "erc20.volume" },
          { series = "erc20", values = ["transfers", "volume"], tags = ["address"] },
          { kv = "erc20-volume", key = "address" },
        ]
        """

    public static func make() throws(ConfigFileError) -> HostConfiguration {
        try HostConfiguration.parse(toml, file: "built-in demo")
    }
}
