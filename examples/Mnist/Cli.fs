/// The main job's command line, parsed by hand (no package): `--name value` or `--name=value`, `-h`/`--help`.
/// Kept apart from Program.fs so the tests can compile it and check every message without running the training.
module Functional.Examples.MnistCli

open System
open System.Globalization
open System.IO

let usage =
    """Usage: dotnet run --project examples/Mnist [-- OPTIONS]

Trains seed 000's CNN on 8,000 MNIST digits with Keras's compile/fit, saves it (architecture and weights) and reports
its accuracy on 2,000 held-out digits. Exit code: 0 at accuracy 0.97 or more, 1 below, 2 for a bad option or an
unavailable device.

Options:
  --epochs N        training epochs, a positive integer (default 4)
  --device DEVICE   cpu, cuda, cuda:N or auto: CUDA when available, else the CPU (default cpu)
  --plot FILE       the training curves as .png, .svg or .html; an .html copy is written next to them
                    (default out/mnist/training-curves.png)
  --data DIR        a folder with the MNIST IDX files (default: the repository's data/mnist)
  --dtype POLICY    the Keras dtype policy: float32 (default), float64, bfloat16, float16, mixed_bfloat16 or
                    mixed_float16 (mixed: compute in 16 bits, keep float32 weights)
  --save FILE.json  where to save the trained model: its Keras config as FILE.json and its weights next to it as
                    FILE.safetensors (default out/mnist/model.json; examples/Service serves it)
  -h, --help        show this help and exit
"""

/// What the command line asks for (options are `--name value` or `--name=value`).
type Options = { Epochs: int; Device: string; Plot: string; Data: string option; Save: string; Dtype: string }

type Command =
    | Train of Options
    | ShowHelp
    /// A bad command line: the message to print (with a pointer to --help).
    | Invalid of string

let defaults =
    { Epochs = 4; Device = "cpu"; Plot = Path.Combine("out", "mnist", "training-curves.png"); Data = None
      Save = Path.Combine("out", "mnist", "model.json"); Dtype = "float32" }

/// The weights file that goes with a saved model's config: the same name with the extension .safetensors.
let weightsPathFor (configPath: string) = Path.ChangeExtension(configPath, ".safetensors")

/// Parses the command line by hand: each option's value is checked here, before anything loads or trains.
let parse (argv: string[]) : Command =
    let rec go i (options: Options) =
        if i >= argv.Length then Train options
        else
            let arg = argv.[i]
            let name, attached =
                match arg.IndexOf '=' with
                | k when arg.StartsWith "--" && k > 2 -> arg.Substring(0, k), Some(arg.Substring(k + 1))
                | _ -> arg, None
            let value, next =
                match attached with
                | Some v -> Some v, i + 1
                | None when i + 1 < argv.Length && not (argv.[i + 1].StartsWith "--") -> Some argv.[i + 1], i + 2
                | None -> None, i + 1
            let withValue (describe: string) (accept: string -> Result<Options, string>) =
                match value with
                | None -> Invalid(sprintf "%s expects %s." name describe)
                | Some v ->
                    match accept v with
                    | Ok o -> go next o
                    | Error why -> Invalid(sprintf "%s expects %s; received '%s'%s." name describe v why)
            match name with
            | "--epochs" ->
                withValue "a positive integer" (fun v ->
                    match Int32.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture) with
                    | true, n when n >= 1 -> Ok { options with Epochs = n }
                    | _ -> Error "")
            | "--device" ->
                withValue "cpu, cuda, cuda:N or auto" (fun v ->
                    match v.Trim().ToLowerInvariant() with
                    | "cpu" | "cuda" | "gpu" | "auto" -> Ok { options with Device = v }
                    | d when d.StartsWith "cuda:" && fst (Int32.TryParse(d.Substring 5, NumberStyles.None, CultureInfo.InvariantCulture)) ->
                        Ok { options with Device = v }
                    | _ -> Error "")
            | "--plot" ->
                withValue "a file name ending in .png, .svg or .html" (fun v ->
                    match Path.GetExtension(v).ToLowerInvariant() with
                    | ".png" | ".svg" | ".html" | ".htm" -> Ok { options with Plot = v }
                    | _ -> Error "")
            | "--data" ->
                withValue "a folder with the MNIST IDX files" (fun v ->
                    if Directory.Exists v then Ok { options with Data = Some v } else Error ", which is not a folder")
            | "--save" ->
                withValue "a file name ending in .json" (fun v ->
                    if Path.GetExtension(v).ToLowerInvariant() = ".json" && Path.GetFileNameWithoutExtension(v).Length > 0
                    then Ok { options with Save = v }
                    else Error "")
            | "--dtype" ->
                withValue "a dtype policy: float32, float64, bfloat16, float16, mixed_bfloat16 or mixed_float16" (fun v ->
                    match v with
                    | "float32" | "float64" | "bfloat16" | "float16" | "mixed_bfloat16" | "mixed_float16" -> Ok { options with Dtype = v }
                    | _ -> Error "")
            | _ -> Invalid(sprintf "Unknown option '%s'." arg)
    if argv |> Array.exists (fun a -> a = "-h" || a = "--help") then ShowHelp else go 0 defaults
