module Functional.Tests.Main

open System
open System.IO
open Expecto
open Expecto.Impl

/// Runs every [<Tests>] in this assembly, then writes the plain closing line CI reads — `N passed, N failed, N skipped` —
/// straight to the process's standard output (Expecto pads Console.Out). Exits non-zero on any failure.
[<EntryPoint>]
let main argv =
    let mutable counts = None
    let printer =
        let inner = defaultConfig.printer
        { inner with
            summary = fun config summary ->
                async {
                    counts <- Some(summary.passed.Length, summary.failed.Length + summary.errored.Length, summary.ignored.Length)
                    do! inner.summary config summary
                } }
    // Sequenced: libtorch state (seeds, thread pools, dispose scopes) is process-global, and parallel native work
    // gains little on 2 cores; running one test at a time keeps torch-backed tests independent of each other.
    let code = runTestsInAssemblyWithCLIArgs [ CLIArguments.Printer printer; CLIArguments.Sequenced ] argv
    let passed, failed, skipped = defaultArg counts (0, 0, 0)
    Console.Out.Flush()
    use raw = new StreamWriter(Console.OpenStandardOutput())
    raw.Write(sprintf "\n%d passed, %d failed, %d skipped\n" passed failed skipped)
    raw.Flush()
    if failed > 0 || code <> 0 || passed = 0 then max 1 code else 0
