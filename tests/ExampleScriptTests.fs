/// Every examples/*.fsx script runs in `dotnet fsi` against the built library, so the scripts never rot.
module Functional.Tests.ExampleScriptTests

open System
open System.Diagnostics
open System.IO
open Expecto

let repoRoot () =
    let rec up (d: DirectoryInfo) =
        if isNull d then failwith "repository root not found"
        elif File.Exists(Path.Combine(d.FullName, "Functional.sln")) then d.FullName
        else up d.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

/// True when a .NET SDK (for `dotnet fsi`) is on PATH; a self-contained test run on a machine without one skips the scripts.
let sdkAvailable =
    lazy
        try
            let psi = ProcessStartInfo("dotnet", "--list-sdks", RedirectStandardOutput = true, RedirectStandardError = true)
            use p = Process.Start psi
            let out = p.StandardOutput.ReadToEnd()
            p.WaitForExit 60_000 && p.ExitCode = 0 && out.Trim() <> ""
        with _ -> false

let runFsi (script: string) =
    let psi = ProcessStartInfo("dotnet", sprintf "fsi --quiet \"%s\"" script)
    psi.RedirectStandardOutput <- true
    psi.RedirectStandardError <- true
    psi.WorkingDirectory <- repoRoot ()
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit 300_000) then p.Kill true
    p.ExitCode, out.Result, err.Result

[<Tests>]
let tests =
    let scripts =
        try Directory.GetFiles(Path.Combine(repoRoot (), "examples"), "*.fsx") |> Array.sort
        with _ -> [||]
    testSequenced <| testList "Example scripts" [
        yield test "there are example scripts to run" { Expect.isNonEmpty scripts "examples/*.fsx" }
        for script in scripts do
          yield
            test (sprintf "dotnet fsi %s runs and prints a model summary" (Path.GetFileName script)) {
                if not sdkAvailable.Value then skiptest "no .NET SDK on PATH to run dotnet fsi"
                let code, out, err = runFsi script
                Expect.equal code 0 (sprintf "exit code; stderr:\n%s\nstdout:\n%s" err out)
                Expect.stringContains out "Total params:" "prints a summary"
            }
    ]
