// Saves and loads a weights file over 2 GiB: one Dense kernel of 24000 × 24000 float32 (2.3 GB, itself over 2 GiB).
// Checks that both work (before: saving threw a bare OverflowException, loading "file too long"), that the values come
// back exactly, and prints the time and peak memory of each. Too slow and too large for the test suite; run it by hand
// after one build (`dotnet build tests -c Release` builds the DSL it loads):
//   dotnet fsi scripts/large-file-check.fsx [folder]
// It needs about 2.4 GB of free disk in the folder (default: the system's temp folder) and about 5 GB of memory.
// Peak memory is read from /proc (Linux): VmHWM, reset before each phase through /proc/self/clear_refs.
#load "../dsl/Functional.fsx"

open System
open System.Diagnostics
open System.IO
open TorchSharp
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building
open Functional.Torch.Formats
open Functional.Torch.Saving

let units = 24000
let folder = match fsi.CommandLineArgs with [| _; dir |] -> dir | _ -> Path.GetTempPath()
let path = Path.Combine(folder, sprintf "functional-large-%s.safetensors" (Guid.NewGuid().ToString "N"))
let gb (bytes: int64) = float bytes / 1e9

let status (key: string) =
    File.ReadAllLines "/proc/self/status"
    |> Array.find (fun l -> l.StartsWith(key + ":"))
    |> fun l -> int64 (l.Split(' ', StringSplitOptions.RemoveEmptyEntries).[1]) * 1024L
let resetPeak () = File.WriteAllText("/proc/self/clear_refs", "5")

/// Runs one phase; prints its time, the memory before it and the peak during it.
let phase (name: string) (f: unit -> 'a) =
    GC.Collect()
    resetPeak ()
    let before = status "VmRSS"
    let clock = Stopwatch.StartNew()
    let result = f ()
    printfn "%-34s %6.1f s   RSS before %5.2f GB, peak %5.2f GB (+%4.2f GB)" name clock.Elapsed.TotalSeconds (gb before) (gb (status "VmHWM")) (gb (status "VmHWM" - before))
    result

let model () = Sequential(Input(units), Dense(units, useBias = false))

/// The kernel's values at a million fixed random positions: enough to tell two kernels apart, without a second copy.
let fingerprint (net: BuiltNetwork) =
    use _ = torch.NewDisposeScope()
    let k = (Seq.head net.Weights).Parameter.detach().reshape(-1L)
    use g = new torch.Generator(7UL)
    let idx = torch.randint(k.numel(), [| 1_000_000L |], generator = g)
    k.index_select(0L, idx).data<float32>().ToArray()

let failures = ResizeArray<string>()
let check ok what = if ok then printfn "  ok: %s" what else (printfn "  FAILED: %s" what; failures.Add what)

try
    torch.manual_seed 1L |> ignore
    let saved =
        let a = phase "build model A (2.3 GB kernel)" (fun () -> BuiltNetwork.Build(model ()))
        let print = fingerprint a
        phase "SaveWeights" (fun () -> a.SaveWeights path)
        a.Dispose()
        print
    let size = FileInfo(path).Length
    printfn "file: %s, %d bytes (%.2f GB, over 2 GiB: %b)" path size (gb size) (size > (1L <<< 31))
    check (size > (1L <<< 31)) "the file is over 2 GiB"
    // The byte-array API refuses the 2.3 GB tensor clearly, before allocating it.
    let refused =
        try SafeTensors.Read path |> ignore; None
        with :? NotSupportedException as e -> Some e.Message
    check (refused.IsSome) (sprintf "SafeTensors.Read refuses one tensor over a byte array: %A" refused)
    torch.manual_seed 2L |> ignore
    let b = phase "build model B (other weights)" (fun () -> BuiltNetwork.Build(model ()))
    check (fingerprint b <> saved) "B starts different"
    phase "LoadWeights" (fun () -> b.LoadWeights path)
    check (fingerprint b = saved) "B holds A's weights exactly after loading"
    b.Dispose()
finally
    if File.Exists path then File.Delete path

if failures.Count > 0 then
    eprintfn "%d check(s) failed" failures.Count
    exit 1
printfn "large-file check passed"
