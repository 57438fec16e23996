namespace Functional.FSharp

open System.Text.Json
open System.Text.Json.Nodes
open Functional.Layers
open Functional.Models
open Functional.Torch
open Functional.Torch.Building

/// How F# Interactive shows the library's values (dsl/Functional.fsx registers these as printers).
module Printing =
    let rec private value (node: JsonNode) =
        match node with
        | null -> "None"
        | :? JsonArray as a -> sprintf "(%s%s)" (a |> Seq.map value |> String.concat ", ") (if a.Count = 1 then "," else "")
        | :? JsonObject as o when o.ContainsKey "class_name" -> call (o.["class_name"].GetValue<string>()) (o.["config"] :?> JsonObject)
        | :? JsonObject as o -> o |> Seq.map (fun kv -> sprintf "%s: %s" kv.Key (value kv.Value)) |> String.concat ", " |> sprintf "{%s}"
        | _ ->
            match node.GetValueKind() with
            | JsonValueKind.String -> sprintf "'%s'" (node.GetValue<string>())
            | JsonValueKind.True -> "True"
            | JsonValueKind.False -> "False"
            | _ -> node.ToJsonString()

    and private call (className: string) (config: JsonObject) =
        let args =
            if isNull config then Seq.empty
            else config |> Seq.filter (fun kv -> not (isNull kv.Value) && kv.Key <> "dtype") |> Seq.map (fun kv -> sprintf "%s=%s" kv.Key (value kv.Value))
        sprintf "%s(%s)" className (String.concat ", " args)

    /// A layer as a Keras constructor call from its config: `Conv2D(filters=8, kernel_size=(3, 3), padding='same', …)`;
    /// arguments that are None are left out.
    let layer (l: Layer) : string =
        try
            let json = LayerConfig.Serialize l
            call l.ClassName (json.["config"] :?> JsonObject)
        with :? System.NotSupportedException -> l.ToString()

    /// A built model: its name, device, and how many weights and parameters it holds.
    let built (net: BuiltNetwork) : string =
        let weights = Seq.toList net.Weights
        sprintf "Built model '%s' on %O: %d weights, %d parameters" net.Declaration.Name net.Device weights.Length
            (weights |> List.sumBy (fun w -> w.Parameter.numel ()))

    /// A tensor's shape, dtype and device, never its data.
    let tensor (t: TorchSharp.torch.Tensor) : string =
        if t.IsInvalid then "Tensor(disposed)"
        else
            let dims = t.shape |> Array.map string |> String.concat ", "
            sprintf "Tensor(shape=(%s%s), dtype=%s, device=%O)" dims (if t.shape.Length = 1 then "," else "") (t.dtype.ToString().ToLowerInvariant()) t.device
