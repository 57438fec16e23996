/// libtorch loading (the Debian 12 GLIBCXX fix and its diagnostics) and one real training step.
module Functional.Tests.NativeTests

open System
open System.IO
open Expecto
open TorchSharp
open Functional
open Functional.Shapes
open Functional.Functions
open Functional.Layers
open Functional.Models
open Functional.Torch.Native
open Functional.Torch
open Functional.Torch.Building
open Functional.Tests.Support

let private glue () =
    let dir = AppContext.BaseDirectory
    [ Path.Combine(dir, "libLibTorchSharp.so"); Path.Combine(dir, "runtimes", "linux-x64", "native", "libLibTorchSharp.so") ]
    |> List.tryFind File.Exists

[<Tests>]
let tests =
    testSequenced <| testList "Native and training" [
        test "libtorch loads through the library's loader" {
            LibTorch.EnsureLoaded()
            use t = torch.ones(2L, 2L)
            Expect.equal (t.sum().item<float32>()) 4.0f "a tensor op runs"
        }

        test "the built glue library has no symbol-version need the system's libstdc++ lacks" {
            match glue (), Option.ofObj (ElfSymbolVersions.FindSystemLibStdCxx()) with
            | Some g, Some lib when OperatingSystem.IsLinux() ->
                let defs = ElfSymbolVersions.ReadDefinitions(File.ReadAllBytes lib)
                Expect.isTrue (defs.Contains "GLIBCXX_3.4") "the system libstdc++'s version table is read"
                let needs = ElfSymbolVersions.ReadNeeds(File.ReadAllBytes g)
                Expect.isTrue (needs |> Seq.exists (fun n -> n.File = "libstdc++.so.6")) "the glue's needs are read"
                Expect.isEmpty (ElfSymbolVersions.Unsatisfied(File.ReadAllBytes g, "libstdc++.so.6", defs)) "nothing unsatisfied after the build"
            | _ -> skiptest "no Linux glue library in this build"
        }

        test "an unpatched copy is explained by its real cause: the missing GLIBCXX version and the library that needs it" {
            match glue (), Option.ofObj (ElfSymbolVersions.FindSystemLibStdCxx()) with
            | Some g, Some lib ->
                let bytes = File.ReadAllBytes g
                let defs = ElfSymbolVersions.ReadDefinitions(File.ReadAllBytes lib)
                let weakMissing = ElfSymbolVersions.ReadNeeds(bytes) |> Seq.filter (fun n -> n.Weak && not (defs.Contains n.Version)) |> List.ofSeq
                if weakMissing.IsEmpty then skiptest "this system's libstdc++ is new enough; nothing was patched"
                // Undo the build's patch in a temporary copy, as an unpatched package file would be.
                for n in weakMissing do
                    bytes.[int n.FlagsOffset] <- bytes.[int n.FlagsOffset] &&& ~~~(byte ElfSymbolVersions.VerFlagWeak)
                let tmp = Path.Combine(Path.GetTempPath(), sprintf "libLibTorchSharp-%s.so" (Guid.NewGuid().ToString "N"))
                File.WriteAllBytes(tmp, bytes)
                try
                    let cause = LibTorch.ExplainMissingVersions tmp
                    Expect.isSome (Option.ofObj cause) "a cause is given"
                    for n in weakMissing do Expect.stringContains cause n.Version "names the version"
                    Expect.stringContains cause lib "names the system library"
                    Expect.stringContains cause (Path.GetFileName tmp) "names the library that needs it"
                    // And patching that copy again satisfies every need, as the build does.
                    let missing = ElfSymbolVersions.Unsatisfied(bytes, "libstdc++.so.6", defs)
                    Expect.equal (ElfSymbolVersions.MarkWeak(bytes, missing)) weakMissing.Length "patched"
                    Expect.isEmpty (ElfSymbolVersions.Unsatisfied(bytes, "libstdc++.so.6", defs)) "satisfied"
                finally File.Delete tmp
            | _ -> skiptest "no Linux glue library in this build"
        }

        test "one forward, backward and optimizer step of seed 000's CNN changes the weights and lowers the loss on that batch" {
            torchReady 11
            use model = BuiltNetwork.Build(ModelTests.seedCnn ())
            use x = torch.rand(16L, 28L, 28L, 1L)
            use y = torch.randint(0L, 10L, [| 16L |])
            use opt = torch.optim.Adam(model.TrainableParameters, lr = 1e-3)
            let before = model.Weights |> Seq.map (fun w -> w.Parameter.detach().clone()) |> List.ofSeq
            // The model ends in softmax: the loss is the negative log of the true class's probability.
            let loss (p: torch.Tensor) (t: torch.Tensor) = torch.nn.functional.nll_loss(p.clamp_min(1e-7).log(), t)
            let first = model.TrainStep(x, y, loss, opt)
            let changed = Seq.zip before model.Weights |> Seq.forall (fun (b, w) -> not ((b.eq w.Parameter).all().item<bool>()))
            for _ in 1 .. 5 do model.TrainStep(x, y, loss, opt) |> ignore
            let later = model.TrainStep(x, y, loss, opt)
            Expect.isTrue changed "every weight moved"
            Expect.isLessThan later first "loss went down"
            for b in before do b.Dispose()
        }

        test "a batch of the wrong shape is a clear managed error, not a native crash" {
            torchReady 12
            use model = BuiltNetwork.Build(ModelTests.seedCnn ())
            use x = torch.rand(4L, 28L, 28L, 3L)
            throwsWith<ArgumentException> [ "(None, 28, 28, 1)"; "(4, 28, 28, 3)" ] (fun () -> model.forward x |> ignore)
        }

        test "loading libtorch tunes glibc's heap for tensor-sized blocks, unless the user opted out or set malloc themselves" {
            torchReady 1
            let userSet =
                Environment.GetEnvironmentVariables().Keys |> Seq.cast<string>
                |> Seq.exists (fun k -> (k.StartsWith "MALLOC_" && k.EndsWith "_") || k = "GLIBC_TUNABLES")
            let optedOut = Environment.GetEnvironmentVariable "FUNCTIONAL_HEAP_TUNING" = "0"
            if OperatingSystem.IsLinux() && not userSet && not optedOut then
                Expect.isTrue HeapTuning.Applied (sprintf "applied (skipped because: %A)" HeapTuning.SkippedBecause)
            else
                Expect.isFalse HeapTuning.Applied "left alone"
                Expect.isNotNull HeapTuning.SkippedBecause "and says why"
        }

        test "Device.Default is the CPU here unless CUDA is visible; cuda is refused clearly without it" {
            if not (LibTorch.CudaAvailable()) then
                Expect.equal Device.Default Device.Cpu "CPU by default"
                throwsWith<InvalidOperationException> [ "CUDA is not available" ] (fun () -> Device.Cuda() |> ignore)
            else
                Expect.equal (string Device.Default) "cuda:0" "CUDA by default when visible"
        }
    ]

/// Tests that need a CUDA device; they skip cleanly without one.
[<Tests>]
let cudaTests =
    testSequenced <| testList "CUDA" [
        test "seed 000's CNN builds, runs and trains on CUDA, matching the CPU forward pass" {
            if not (LibTorch.CudaAvailable()) then skiptest "no CUDA device"
            torchReady 13
            let cuda = Device.Cuda()
            use cpuModel = BuiltNetwork.Build(ModelTests.seedCnn ())
            use gpuModel = BuiltNetwork.Build(ModelTests.seedCnn (), cuda)
            for wc, wg in Seq.zip cpuModel.Weights gpuModel.Weights do
                let pc, pg = wc.Parameter, wg.Parameter
                use _ = torch.no_grad()
                pg.copy_(pc) |> ignore
            use x = torch.rand(8L, 28L, 28L, 1L)
            use yc = cpuModel.forward x
            use xg = x.cuda()
            use yg = gpuModel.forward xg
            Expect.isTrue (yg.device_type = DeviceType.CUDA) "ran on the GPU"
            use ygc = yg.cpu()
            Expect.isTrue (yc.allclose(ygc, 1e-3, 1e-4)) "same outputs as the CPU"
            use y = torch.randint(0L, 10L, [| 8L |])
            use opt = torch.optim.Adam(gpuModel.TrainableParameters)
            let loss (p: torch.Tensor) (t: torch.Tensor) = torch.nn.functional.nll_loss(p.clamp_min(1e-7).log(), t)
            let l = gpuModel.TrainStep(x, y, loss, opt)
            Expect.isFalse (Single.IsNaN l) "a finite loss"
        }
    ]
