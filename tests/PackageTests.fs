/// The packages work as a new user would use them: packed into a local feed, installed into a fresh `dotnet new console`
/// project and an F# script outside the repository, each of which trains a network on real MNIST digits.
module Functional.Tests.PackageTests

open System
open System.Diagnostics
open System.Globalization
open System.IO
open System.IO.Compression
open System.Text.RegularExpressions
open Expecto
open Functional.Torch.Native
open Functional.Tests.ExampleScriptTests

/// Runs `dotnet ARGS` in a folder with extra environment variables; returns the exit code and stdout + stderr.
let private dotnet (dir: string) (env: (string * string) list) (timeoutMs: int) (args: string list) =
    let psi = ProcessStartInfo("dotnet", args)
    psi.WorkingDirectory <- dir
    psi.RedirectStandardOutput <- true
    psi.RedirectStandardError <- true
    // Child `dotnet` commands must not inherit the test host's MSBuild settings.
    for k in [ "MSBuildExtensionsPath"; "MSBuildSDKsPath"; "MSBUILD_EXE_PATH" ] do psi.Environment.Remove k |> ignore
    psi.Environment.["DOTNET_CLI_TELEMETRY_OPTOUT"] <- "1"
    psi.Environment.["DOTNET_NOLOGO"] <- "1"
    for k, v in env do psi.Environment.[k] <- v
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    let finished = p.WaitForExit timeoutMs
    if not finished then p.Kill true
    let text = out.Result + err.Result
    (if finished then p.ExitCode else -1), text

let private describe (step: string) (code: int, text: string) =
    let tail = if text.Length > 6000 then "…" + text.Substring(text.Length - 6000) else text
    sprintf "%s failed (exit code %d; -1 = timed out):\n%s" step code tail

/// The NuGet global packages folder the child processes use.
let private nugetPackages () =
    match Environment.GetEnvironmentVariable "NUGET_PACKAGES" with
    | null | "" -> Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, ".nuget", "packages")
    | p -> p

/// Every file under the TorchSharp and libtorch package folders, with its size: TorchSharp's own F# Interactive fallback
/// would add ~0.5 GB of copies there; Functional's loader must not.
let private nativePackageFiles () =
    let root = nugetPackages ()
    [ "torchsharp"; "libtorch-cpu-linux-x64" ]
    |> List.map (fun id -> Path.Combine(root, id))
    |> List.filter Directory.Exists
    |> List.collect (fun d -> Directory.GetFiles(d, "*", SearchOption.AllDirectories) |> List.ofArray)
    |> List.filter (fun f -> not (f.EndsWith ".metadata.json" || f.EndsWith "paket-installmodel.cache"))
    |> List.map (fun f -> f, FileInfo(f).Length)
    |> Set.ofList

let private accuracyOf (text: string) =
    let m = Regex.Match(text, @"held-out accuracy: (\d+\.\d+) on (\d+) digits")
    if m.Success then Some(Double.Parse(m.Groups.[1].Value, CultureInfo.InvariantCulture)) else None

let private packages = [ "Functional"; "Functional.Torch"; "Functional.FSharp"; "Functional.Plotting" ]

[<Tests>]
let tests =
    testSequenced <| testList "Packages" [
        test "packed into a local feed, Functional installs into a new console project and an F# script outside the repository, and both train on MNIST digits" {
            if not sdkAvailable.Value then skiptest "no .NET SDK on PATH to pack and build"
            let repo = repoRoot ()
            // A version no cache has seen: a stale package can never be picked up.
            let stamp = DateTime.UtcNow.ToString("yyyyMMddHHmmss") + ".g" + Guid.NewGuid().ToString("N").Substring(0, 8)   // "g": an all-digit part with a leading zero is not a valid SemVer identifier
            let suffix = "check." + stamp
            let version = "0.2.0-" + suffix
            let work = Path.Combine(Path.GetTempPath(), "functional-package-check-" + stamp)
            let feed = Path.Combine(work, "feed")
            Directory.CreateDirectory feed |> ignore
            try
                // 1. Pack the four packages (the test project has just built them).
                for project in [ "src/Functional"; "src/Functional.Torch"; "src/Functional.Plotting"; "dsl" ] do
                    let r = dotnet repo [] 300_000 [ "pack"; project; "-c"; "Release"; "--no-build"; "-o"; feed; "-p:VersionSuffix=" + suffix ]
                    Expect.equal (fst r) 0 (describe ("dotnet pack " + project) r)
                for id in packages do
                    Expect.isTrue (File.Exists(Path.Combine(feed, sprintf "%s.%s.nupkg" id version))) (id + " package")
                    Expect.isTrue (File.Exists(Path.Combine(feed, sprintf "%s.%s.snupkg" id version))) (id + " symbol package")
                let nuspec =
                    use zip = ZipFile.OpenRead(Path.Combine(feed, sprintf "Functional.Torch.%s.nupkg" version))
                    Expect.isNotNull (zip.GetEntry "buildTransitive/Functional.Torch.targets") "the native fix travels as buildTransitive targets"
                    use reader = new StreamReader(zip.GetEntry("Functional.Torch.nuspec").Open())
                    reader.ReadToEnd()
                Expect.stringContains nuspec "<license type=\"expression\">MIT</license>" "license"
                Expect.stringContains nuspec "id=\"libtorch-cpu-linux-x64\" version=\"[2.10.0, 2.11.0)\"" "the CPU libtorch by range"
                Expect.stringContains nuspec (sprintf "id=\"Functional\" version=\"[%s]\"" version) "the core at exactly this version"
                Expect.isFalse (nuspec.Contains "\"Google.Protobuf\"") "TorchSharp's own dependencies are not repeated as Functional.Torch's"

                let digits = Path.Combine(repo, "data", "mnist")
                // Outside the repository: no Directory.Build.props or paket of ours applies. The feed is added to the
                // user's sources (nuget.org or its mirror), not in place of them.
                let source = sprintf "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    <add key=\"functional-check\" value=\"%s\" />\n  </packageSources>\n</configuration>\n" feed

                // 2. C#: dotnet new console + dotnet add package Functional.Torch, then build and run.
                let app = Path.Combine(work, "app")
                let r = dotnet work [] 300_000 [ "new"; "console"; "-o"; app; "--framework"; "net10.0" ]
                Expect.equal (fst r) 0 (describe "dotnet new console" r)
                File.WriteAllText(Path.Combine(app, "nuget.config"), source)
                let r = dotnet app [] 300_000 [ "add"; "package"; "Functional.Torch"; "--version"; version ]
                Expect.equal (fst r) 0 (describe "dotnet add package Functional.Torch" r)
                File.Copy(Path.Combine(repo, "tests", "package", "Program.cs"), Path.Combine(app, "Program.cs"), true)
                let appCache = Path.Combine(work, "app-native-cache")
                let r = dotnet app [ "FUNCTIONAL_NATIVE_CACHE", appCache ] 600_000 [ "run"; "-c"; "Release"; "--"; digits ]
                Expect.equal (fst r) 0 (describe "dotnet run (the console app)" r)
                // The package's buildTransitive targets made the app's own copy loadable: the loader had nothing to patch.
                Expect.isFalse (Directory.Exists appCache) "the console app needed no run-time patched copy"
                for glue in Directory.GetFiles(Path.Combine(app, "bin"), "libLibTorchSharp.so", SearchOption.AllDirectories) do
                    match Option.ofObj (ElfSymbolVersions.FindSystemLibStdCxx()) with
                    | Some lib ->
                        let defs = ElfSymbolVersions.ReadDefinitions(File.ReadAllBytes lib)
                        Expect.isEmpty (ElfSymbolVersions.Unsatisfied(File.ReadAllBytes glue, "libstdc++.so.6", defs)) (glue + " was patched by the build")
                    | None -> ()
                let csharp = accuracyOf (snd r)
                Expect.isSome csharp (describe "the console app's accuracy line" r)
                Expect.isGreaterThanOrEqual csharp.Value 0.8 (sprintf "the console app learned the digits: %s" (snd r))

                // 3. F#: #r "nuget: Functional.FSharp" in dotnet fsi, with the NuGet cache's native packages watched.
                let script = Path.Combine(work, "train.fsx")
                File.WriteAllText(script,
                    File.ReadAllText(Path.Combine(repo, "tests", "package", "train.fsx"))
                        .Replace("FUNCTIONAL_FEED", feed).Replace("FUNCTIONAL_VERSION", version))
                let nativeCache = Path.Combine(work, "native-cache")
                let before = nativePackageFiles ()
                let r = dotnet work [ "FUNCTIONAL_NATIVE_CACHE", nativeCache ] 600_000 [ "fsi"; "--quiet"; script; digits ]
                let after = nativePackageFiles ()
                Expect.equal (fst r) 0 (describe "dotnet fsi train.fsx" r)
                let fsharp = accuracyOf (snd r)
                Expect.isSome fsharp (describe "the script's accuracy line" r)
                Expect.equal fsharp csharp "the script and the console app train the same network on the same digits with the same seed"
                Expect.isEmpty (Set.difference after before |> Set.map fst) "nothing was written into the NuGet cache's TorchSharp or libtorch folders"
                // Where the system's libstdc++ lacks a version the glue needs (Debian 12), the script loaded a patched copy
                // from the per-user cache folder; elsewhere the package's own file.
                let glue = Regex.Match(snd r, @"glue library: (\S+)").Groups.[1].Value
                match Option.ofObj (ElfSymbolVersions.FindSystemLibStdCxx()) with
                | Some lib when OperatingSystem.IsLinux() ->
                    let original = Path.Combine(nugetPackages (), "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so")
                    if File.Exists original then
                        let defs = ElfSymbolVersions.ReadDefinitions(File.ReadAllBytes lib)
                        if ElfSymbolVersions.Unsatisfied(File.ReadAllBytes original, "libstdc++.so.6", defs).Count > 0 then
                            Expect.stringStarts glue nativeCache "the patched glue came from FUNCTIONAL_NATIVE_CACHE"
                | _ -> ()
            finally
                try Directory.Delete(work, true) with _ -> ()
                // The check's own packages (a version used once) leave the NuGet cache with it.
                for id in packages do
                    let dir = Path.Combine(nugetPackages (), id.ToLowerInvariant(), version)
                    try (if Directory.Exists dir then Directory.Delete(dir, true)) with _ -> ()
        }
    ]
